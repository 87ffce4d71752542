"""The reference pipeline: pandas, Python tokenisation per review and Keras `model.predict`.

`python -m bench.keras_pipeline INPUT.csv OUTPUT.csv --run RUN_DIR` scores the `review` column
with the Keras checkpoint of a run folder and writes `id,score`. It follows the same rules as
`score.preprocessing` with the standard library `re`, one review at a time, as a first
implementation without the scorer would.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

LINE_BREAK = re.compile(r"<br\s*/?>")
APOSTROPHES = re.compile("['\u2019]")
# A token is a run of ASCII letters and digits and of non-ASCII characters outside the
# separator ranges listed in score/preprocessing.py.
TOKEN = re.compile(
    "[a-z0-9\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u1fff\u2c00-\u2fff\u3040-\ufefe"
    "\uff00-\U0001efff\U00020000-\U0010ffff]+"
)
PADDING_ID = 0
OUT_OF_VOCABULARY_ID = 1
RESERVED_IDS = 2
PREDICT_BATCH_SIZE = 64


def tokenize(text: str) -> list[str]:
    text = LINE_BREAK.sub(" ", text.lower())
    return TOKEN.findall(APOSTROPHES.sub("", text))


def encode(texts: list[str], word_ids: dict[str, int], length: int) -> list[list[int]]:
    rows = []
    for text in texts:
        ids = [word_ids.get(token, OUT_OF_VOCABULARY_ID) for token in tokenize(text)][-length:]
        if not ids:
            ids = [OUT_OF_VOCABULARY_ID]
        rows.append(ids + [PADDING_ID] * (length - len(ids)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.keras_pipeline")
    parser.add_argument("input", type=Path, help="CSV file with id and review columns")
    parser.add_argument("output", type=Path, help="CSV file to write id,score to")
    parser.add_argument("--run", type=Path, required=True, help="run folder of `python -m train`")
    arguments = parser.parse_args(argv)

    import json

    import keras
    import numpy as np
    import pandas as pd

    import train.model  # noqa: F401  Registers the custom layers that the checkpoint names.

    settings = json.loads((arguments.run / "preprocessing.json").read_text())
    words = (arguments.run / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
    word_ids = {word: index + RESERVED_IDS for index, word in enumerate(w for w in words if w)}
    model = keras.models.load_model(arguments.run / "best.keras")

    frame = pd.read_csv(arguments.input, dtype=str, keep_default_na=False)
    ids = np.array(encode(frame["review"].tolist(), word_ids, settings["sequence_length"]))
    scores = model.predict(ids.astype(np.int32), batch_size=PREDICT_BATCH_SIZE, verbose=0)
    pd.DataFrame({"id": frame["id"], "score": scores.reshape(-1)}).to_csv(
        arguments.output, index=False
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
