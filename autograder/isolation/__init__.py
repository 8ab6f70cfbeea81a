"""Where student code runs, and what it may use.

Owns: the one `Limits` of a notebook (`limits`), the bubblewrap sandbox (`sandbox`, and `sandbox_kernel`,
the kernel launcher that runs on the host with `python -I`), warm servers that fork fresh processes with
the imports already done (`warm_kernels` for kernels, `warm_jobs` for grading workers, `servers` to start
them), and running a worker process with a hard time limit (`processes`).
Imports only the standard library, psutil and jupyter's public APIs; never the grading or release layers.
"""
