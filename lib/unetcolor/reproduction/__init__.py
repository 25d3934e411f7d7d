"""`make reproduce`: the training plan (``plan``), the rerun rule (``staleness``), the notebooks
through papermill (``runner``), the whole sequence (``reproduce``), and the findings and README
summary written from the tables (``findings``, ``results``)."""
