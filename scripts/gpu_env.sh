# Sourced by the GPU scripts (gpu_compile_check.sh, gpu_paper_run.sh): what both set up on a GPU
# machine that has JAX but no TensorFlow or Jupyter.
#   - WHEELS (optional): a folder of wheels (keras and friends) installed into /tmp/site first;
#   - the package from lib/ on PYTHONPATH, Keras on JAX, one progress line per epoch;
#   - machine_facts: the GPU, the CPU and its bfloat16 flags, for the log.
if [ -n "${WHEELS:-}" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$WHEELS"/*.whl || exit 1
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD/lib${PYTHONPATH:+:$PYTHONPATH} KERAS_BACKEND=${KERAS_BACKEND:-jax}
export UNETCOLOR_PROGRESS=epoch PYTHONUNBUFFERED=1

machine_facts() {
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
    lscpu | grep -E "^(Model name|CPU\(s\)):"
    echo "bfloat16 CPU flags: $(grep -o -w -E 'amx_bf16|amx_tile|avx512_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
}
