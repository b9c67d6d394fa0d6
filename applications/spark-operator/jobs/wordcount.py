"""Word count over a text file on the lab's claim: bio-gitops' example Spark job.

It is built into the `spark` image (pins.yaml images.spark) at /opt/spark/jobs/wordcount.py, so
a SparkApplication names it as local:///opt/spark/jobs/wordcount.py (lab-spark-submit admits
only files inside the image). `invoke spark.run --env dev --lab genomics --app wordcount`
submits it through the operator:

    wordcount.py INPUT OUTPUT_DIR [PARTITIONS]

The executors read their splits of INPUT and count the words of INPUT (lower-cased, letters, digits and
apostrophes); the driver writes OUTPUT_DIR/counts.tsv (word, count; most frequent first),
OUTPUT_DIR/_SUCCESS, and prints the same table between `wordcount-begin` and `wordcount-end`
lines of its log, with the executors that did the work.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from pathlib import Path

from pyspark import SparkConf, SparkContext

WORD = re.compile(r"[a-z0-9']+")


def words(line: str) -> list[str]:
    """The words of one line, lower-cased; an apostrophe alone is no word."""
    return [w for w in WORD.findall(line.lower()) if w.strip("'")]


def executor_name() -> str:
    """The pod a task runs in (Spark sets SPARK_EXECUTOR_POD_NAME in every executor)."""
    return os.environ.get("SPARK_EXECUTOR_POD_NAME", socket.gethostname())


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: wordcount.py INPUT OUTPUT_DIR [PARTITIONS]", file=sys.stderr)
        return 2
    source, out = Path(argv[0]), Path(argv[1])
    if not source.is_file():
        print(f"wordcount: no input file {source} (is the lab's claim mounted at its parent?)", file=sys.stderr)
        return 1
    sc = SparkContext(conf=SparkConf().setAppName("wordcount"))
    try:
        partitions = int(argv[2]) if len(argv) == 3 else max(2, sc.defaultParallelism)
        # the executors read their splits of the file from the claim (mounted on every pod)
        lines = sc.textFile(f"file://{source}", partitions)
        counts = lines.flatMap(words).map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b, partitions).collect()
        hosts = sorted(set(lines.mapPartitions(lambda _: [executor_name()]).collect()))
    finally:
        sc.stop()
    table = sorted(counts, key=lambda item: (-item[1], item[0]))
    out.mkdir(parents=True, exist_ok=True)
    (out / "counts.tsv").write_text("".join(f"{word}\t{count}\n" for word, count in table), encoding="utf-8")
    (out / "_SUCCESS").write_text("")
    print(f"wordcount: {sum(c for _, c in table)} words, {len(table)} distinct, from {source}")
    print(f"wordcount: executors {' '.join(hosts)}")
    print(f"wordcount: written to {out / 'counts.tsv'}")
    print("wordcount-begin")
    for word, count in table:
        print(f"{word}\t{count}")
    print("wordcount-end", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
