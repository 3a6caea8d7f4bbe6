"""Run every benchmark: ``make bench`` (uses BENCH_DATABASE_URL / BENCH_REDIS_URL, else embedded servers)."""

from bench import outbox_throughput

if __name__ == "__main__":
    outbox_throughput.main()
