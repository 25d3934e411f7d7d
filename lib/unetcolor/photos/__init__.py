"""The photos: reading any image file (``images``), the dataset's verified download
(``download``), the license-clear sample photos (``samples``), and preparing a folder of photos
into 256x256 arrays with the paper's splits (``data``)."""
