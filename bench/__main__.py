"""``make bench``: the whole benchmark (see ``bench/run.py``); ``python -m bench.outbox_throughput`` alone."""

from bench import run

if __name__ == "__main__":
    run.main()
