"""Triage classifier quality, training time and latency on the development data sets.

    .venv/bin/python bench/triage_quality.py                      # all three data sets
    .venv/bin/python bench/triage_quality.py --dataset banking77_oos --encoder none

Each run trains through the real command (``hashdesk triage train``, timed from the outside,
embedding included) and measures the saved model on rows it never saw:

- banking77: ``train.csv`` has no test split here, so a stratified 20% (seed 2026) is held out
  before training and never tuned on; accuracy counts an abstention as wrong.
- banking77_oos: trained on ``train.tsv`` + ``id_oos_train.tsv``; reported on ``valid.tsv``
  (coverage and precision of in-scope answers), ``id_oos_valid.tsv`` and ``ood_oos_valid.tsv``
  (share answered, lower is better).
- clinc150: trained on ``train`` + ``oos_train``; reported on ``val`` and ``oos_val``.

Latency, after a warm-up: one message at a time through ``Classifier.predict_one`` (what
``predict_category`` does for a new chat or ticket, and ``triage predict`` for a line typed
into it), and per message in batches of 64 through ``Classifier.predict`` (what ``triage
predict`` does with lines that arrive together, e.g. a file piped in). When the model has a
fast path (n-grams alone for the texts it is sure of), the same messages are timed again
with it switched off, in the same run, and ``fast_share`` is the share of the measured rows
it answered without the encoder.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from hashdesk.assistant.triage import Classifier, Prediction

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HASHDESK = str(Path(sys.executable).with_name("hashdesk"))

Rows = list[tuple[str, str]]
BATCH = 64  # hashdesk.assistant.triage.commands.PREDICT_BATCH


def read_tsv(path: Path) -> Rows:
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.reader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        return [(row[0], row[1]) for row in reader if row]


def write_tsv(path: Path, rows: Rows) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write("text\tlabel\n")
        for text, label in rows:
            file.write(f"{text.replace(chr(9), ' ')}\t{label}\n")


def held_out_split(rows: Rows, share: float, seed: int) -> tuple[Rows, Rows]:
    by_label: dict[str, Rows] = defaultdict(list)
    for row in rows:
        by_label[row[1]].append(row)
    generator = random.Random(seed)
    train: Rows = []
    test: Rows = []
    for label in sorted(by_label):
        group = by_label[label]
        generator.shuffle(group)
        cut = round(len(group) * share)
        test.extend(group[:cut])
        train.extend(group[cut:])
    return train, test


def train_model(data: Path, model_dir: Path, encoder: str) -> float:
    command = [HASHDESK, "triage", "train", "--data", str(data), "--model", str(model_dir),
               "--encoder", encoder]  # fmt: skip
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"training failed:\n{result.stderr}")
    print("  " + "\n  ".join(result.stdout.strip().splitlines()))
    return seconds


def answers(classifier: Classifier, texts: list[str]) -> list[Prediction]:
    return [
        p
        for start in range(0, len(texts), 256)
        for p in classifier.predict(texts[start : start + 256])
    ]


def in_scope_figures(predictions: list[Prediction], gold: list[str]) -> dict[str, float]:
    answered = [(p.label, g) for p, g in zip(predictions, gold, strict=True) if p.label]
    right = sum(label == g for label, g in answered)
    return {
        "accuracy": right / len(gold),
        "coverage": len(answered) / len(gold),
        "precision": right / max(len(answered), 1),
    }


def answered_share(predictions: list[Prediction]) -> float:
    return sum(p.label is not None for p in predictions) / max(len(predictions), 1)


def latency_ms(classifier: Classifier, texts: list[str]) -> dict[str, float]:
    figures = _latency_ms(classifier, texts)
    fast = classifier.fast
    if fast is not None:
        classifier.fast = None  # the full model alone: the comparison this run can make
        try:
            alone = _latency_ms(classifier, texts)
        finally:
            classifier.fast = fast
        figures.update({f"{key}_without_fast_path": value for key, value in alone.items()})
    return figures


def fast_share(classifier: Classifier, texts: list[str]) -> float:
    """Share of ``texts`` the fast path answers without embedding them (0 without one)."""
    if classifier.fast is None:
        return 0.0
    _, sure = classifier.fast.sure(classifier.views.sparse(texts))
    return float(sure.mean())


def _latency_ms(classifier: Classifier, texts: list[str]) -> dict[str, float]:
    for text in texts[:5]:
        classifier.predict_one(text)
    timings, cpu = [], []
    for text in texts:
        started, started_cpu = time.perf_counter(), time.thread_time()
        classifier.predict_one(text)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    timings.sort()
    batch_wall, batch_cpu = [], []
    for start in range(0, len(texts) - BATCH + 1, BATCH):
        started, started_cpu = time.perf_counter(), time.thread_time()
        classifier.predict(texts[start : start + BATCH])
        batch_wall.append((time.perf_counter() - started) * 1000 / BATCH)
        batch_cpu.append((time.thread_time() - started_cpu) * 1000 / BATCH)
    # Wall time suffers from whatever else runs on the machine; the thread's CPU time is what
    # one message costs on an idle core (the encoder runs single-threaded in the caller).
    return {"mean": statistics.fmean(timings), "p50": timings[len(timings) // 2],
            "p95": timings[int(len(timings) * 0.95)], "cpu_mean": statistics.fmean(cpu),
            "batched_wall_median": statistics.median(batch_wall),
            "batched_cpu_median": statistics.median(batch_cpu)}  # fmt: skip


def baseline_accuracy(train: Rows, test: Rows) -> float:
    """The issue's floor on the same split: logistic regression over word TF-IDF + MiniLM."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from hashdesk.assistant.triage.features import embed

    texts, gold = [t for t, _ in train], [g for _, g in train]
    tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    train_vectors, test_vectors = embed("minilm", texts), embed("minilm", [t for t, _ in test])
    assert train_vectors is not None and test_vectors is not None
    features = sp.hstack([tfidf.fit_transform(texts), sp.csr_matrix(train_vectors)]).tocsr()
    model = LogisticRegression(C=10, max_iter=2000).fit(features, gold)
    test_features = sp.hstack([tfidf.transform([t for t, _ in test]), sp.csr_matrix(test_vectors)])
    predicted = model.predict(test_features.tocsr())
    return float(np.mean(predicted == np.array([g for _, g in test])))


def banking77(work: Path, encoder: str, baseline: bool = False) -> dict[str, object]:
    with (DATA / "banking77" / "train.csv").open(encoding="utf-8", newline="") as file:
        rows = [(row["text"], row["category"]) for row in csv.DictReader(file)]
    train, test = held_out_split(rows, 0.2, seed=2026)
    data = work / "banking77_train.csv"
    with data.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "category"])
        writer.writerows(train)
    seconds = train_model(data, work / "banking77_model", encoder)
    classifier = Classifier.load(work / "banking77_model")
    figures: dict[str, object] = {}
    figures.update(
        in_scope_figures(answers(classifier, [t for t, _ in test]), [g for _, g in test])
    )
    figures["fast_share"] = fast_share(classifier, [t for t, _ in test])
    figures["latency_ms"] = latency_ms(classifier, [t for t, _ in test[:300]])
    if baseline:
        figures["baseline_accuracy"] = baseline_accuracy(train, test)
    return {"train_rows": len(train), "test_rows": len(test), "train_seconds": seconds, **figures}


def banking77_oos(work: Path, encoder: str, baseline: bool = False) -> dict[str, object]:
    folder = DATA / "banking77_oos"
    train = read_tsv(folder / "train.tsv") + read_tsv(folder / "id_oos_train.tsv")
    write_tsv(work / "b77oos_train.tsv", train)
    seconds = train_model(work / "b77oos_train.tsv", work / "b77oos_model", encoder)
    classifier = Classifier.load(work / "b77oos_model")
    valid = read_tsv(folder / "valid.tsv")
    figures = in_scope_figures(answers(classifier, [t for t, _ in valid]), [g for _, g in valid])
    id_oos = answers(classifier, [t for t, _ in read_tsv(folder / "id_oos_valid.tsv")])
    ood_oos = answers(classifier, [t for t, _ in read_tsv(folder / "ood_oos_valid.tsv")])
    return {"train_rows": len(train), "train_seconds": seconds, **figures,
            "id_oos_answered": answered_share(id_oos), "ood_oos_answered": answered_share(ood_oos),
            "oos_label_output": any(p.label == "oos" for p in id_oos + ood_oos),
            "fast_share": fast_share(classifier, [t for t, _ in valid]),
            "latency_ms": latency_ms(classifier, [t for t, _ in valid[:300]])}  # fmt: skip


def clinc150(work: Path, encoder: str, baseline: bool = False) -> dict[str, object]:
    sets = json.loads((DATA / "clinc150" / "data_full_dev.json").read_text(encoding="utf-8"))
    train = [(text, label) for text, label in sets["train"] + sets["oos_train"]]
    write_tsv(work / "clinc_train.tsv", train)
    seconds = train_model(work / "clinc_train.tsv", work / "clinc_model", encoder)
    classifier = Classifier.load(work / "clinc_model")
    val = [(text, label) for text, label in sets["val"]]
    figures = in_scope_figures(answers(classifier, [t for t, _ in val]), [g for _, g in val])
    oos = answers(classifier, [text for text, _ in sets["oos_val"]])
    return {"train_rows": len(train), "train_seconds": seconds, **figures,
            "oos_answered": answered_share(oos),
            "fast_share": fast_share(classifier, [t for t, _ in val]),
            "latency_ms": latency_ms(classifier, [t for t, _ in val[:300]])}  # fmt: skip


BENCHES = {"banking77": banking77, "banking77_oos": banking77_oos, "clinc150": clinc150}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=[*BENCHES, "all"], default="all")
    parser.add_argument("--encoder", choices=["minilm", "e5", "none"], default="minilm")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="banking77: also measure the issue's baseline on the same split",
    )
    arguments = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is missing: the development data sets live beside the checkout")
    names = list(BENCHES) if arguments.dataset == "all" else [arguments.dataset]
    print(f"# triage quality, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{platform.machine()} {platform.processor() or ''} cores={os.cpu_count()}, "
          f"encoder={arguments.encoder}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as folder:
        for name in names:
            print(f"## {name}")
            figures = BENCHES[name](Path(folder), arguments.encoder, arguments.baseline)
            print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
