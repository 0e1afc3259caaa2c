"""llama.cpp (llama-cpp-python) on the same GGUF, same prompt, same thread count: the native
peer in `make bench`. Prints one JSON line: {"prefill_tps", "decode_tps", "runs": [...]}.

    python bench_llamacpp.py MODEL IDS_JSON GEN REPS THREADS
"""
import inspect
import json
import statistics
import sys
import time

import numpy as np
from llama_cpp import Llama


def main():
    model, ids_file, gen, reps, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    ids = json.load(open(ids_file))["ids"]
    kw = dict(model_path=model, n_ctx=len(ids) + gen + 8, n_batch=512, n_ubatch=512, n_threads=threads,
              n_threads_batch=threads, logits_all=False, verbose=False)
    # On these VMs llama.cpp's AMX extra buffer type crashes (a segfault in the first decode);
    # the references ran without them. llama-cpp-python 0.3.36 has the field in the C struct
    # but not as an argument, so its default model parameters are wrapped to turn it off.
    extra = "use_extra_bufts" in inspect.signature(Llama.__init__).parameters
    if extra:
        kw["use_extra_bufts"] = False
    else:
        import llama_cpp.llama_cpp as capi

        default_params = capi.llama_model_default_params

        def without_extra_bufts():
            params = default_params()
            params.use_extra_bufts = False
            return params

        capi.llama_model_default_params = without_extra_bufts
        extra = True
    llm = Llama(**kw)
    runs = []
    for rep in range(reps + 1):  # the first run warms up and is not counted
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(ids)
        t1 = time.perf_counter()
        for _ in range(gen):
            tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            llm.eval([tok])
        t2 = time.perf_counter()
        if rep > 0:
            runs.append({"prefill_tps": len(ids) / (t1 - t0), "decode_tps": gen / (t2 - t1)})
    print(json.dumps({
        "prefill_tps": statistics.median(r["prefill_tps"] for r in runs),
        "decode_tps": statistics.median(r["decode_tps"] for r in runs),
        "threads": threads, "extra_bufts_disabled": extra, "runs": runs,
    }))


if __name__ == "__main__":
    main()
