"""Load labelled reviews from an aclImdb folder, a CSV file or the Keras copy of IMDB."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from score.errors import InputError
from score.evaluation import parse_labels

logger = logging.getLogger(__name__)

KERAS_SOURCE = "keras"
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


class DataError(ValueError):
    """Training data that cannot be read; the message names the path and the fix."""


@dataclass
class Reviews:
    """Review texts with 0/1 labels (1 is positive), and the film each review is about if known."""

    texts: list[str]
    labels: np.ndarray
    films: list[str] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def fingerprint(self) -> str:
        """Return a SHA-256 of the texts and labels in order, to tell data sets apart."""
        digest = hashlib.sha256()
        for text, label in zip(self.texts, self.labels, strict=True):
            digest.update(text.encode("utf-8", "surrogatepass"))
            digest.update(b"\x00" if label == 0 else b"\x01")
        return digest.hexdigest()


@dataclass
class Dataset:
    """The training and test splits of one source."""

    train: Reviews
    test: Reviews
    source: str
    unlabelled: list[str] = field(default_factory=list)


def load_dataset(
    source: str | Path, text_column: str = "review", label_column: str = "sentiment"
) -> Dataset:
    """Load training and test reviews from `source`.

    `source` is an aclImdb folder, a CSV file with a `split` column (`train`/`test`), a folder
    holding `train.csv` and `test.csv`, or the word "keras" for the Keras copy of IMDB.
    """
    if str(source) == KERAS_SOURCE:
        return load_keras_imdb()
    path = Path(source)
    if not path.exists():
        raise DataError(f"training data {path} not found: give an aclImdb folder or a CSV file")
    if path.is_dir() and (path / "train" / "pos").is_dir():
        return Dataset(
            train=load_aclimdb_split(path / "train"),
            test=load_aclimdb_split(path / "test"),
            source=str(path),
            unlabelled=load_unlabelled(path / "train" / "unsup"),
        )
    if path.is_dir() and (path / "train.csv").is_file():
        return Dataset(
            train=load_csv(path / "train.csv", text_column, label_column),
            test=load_csv(path / "test.csv", text_column, label_column),
            source=str(path),
        )
    if path.is_file():
        return split_csv(path, text_column, label_column)
    raise DataError(
        f"{path} is neither an aclImdb folder (train/pos, train/neg, test/pos, test/neg) "
        "nor a CSV file: point --data at one of those"
    )


def load_aclimdb_split(folder: Path) -> Reviews:
    """Read the `pos` and `neg` folders of one aclImdb split; files are read in name order.

    When the split has its `urls_pos.txt` and `urls_neg.txt` files, each review also gets the
    address of its film: line N of the file belongs to review `N_<rating>.txt`.
    """
    texts: list[str] = []
    labels: list[int] = []
    films: list[str] | None = []
    for name, label in (("neg", 0), ("pos", 1)):
        class_folder = folder / name
        if not class_folder.is_dir():
            raise DataError(f"{class_folder} not found: an aclImdb split needs pos/ and neg/")
        files = sorted(class_folder.glob("*.txt"))
        for file in files:
            texts.append(file.read_text(encoding="utf-8", errors="replace"))
            labels.append(label)
        addresses = _film_addresses(folder / f"urls_{name}.txt", files)
        films = None if films is None or addresses is None else films + addresses
    if not texts:
        raise DataError(f"{folder} has no .txt reviews in pos/ or neg/")
    logger.info("read %d reviews from %s", len(texts), folder)
    return Reviews(texts=texts, labels=np.asarray(labels, dtype=np.int32), films=films)


def _film_addresses(urls: Path, files: list[Path]) -> list[str] | None:
    """Return the film address of each review file, or None when `urls` does not cover them."""
    if not urls.is_file():
        return None
    lines = urls.read_text(encoding="utf-8").splitlines()
    addresses = []
    for file in files:
        number = file.stem.split("_")[0]
        if not number.isdigit() or int(number) >= len(lines):
            logger.warning("%s has no line for %s: reviews are not grouped by film", urls, file)
            return None
        addresses.append(lines[int(number)].strip())
    return addresses


def load_unlabelled(folder: Path) -> list[str]:
    """Read the unlabelled reviews of an aclImdb `train/unsup` folder; none when it is absent."""
    if not folder.is_dir():
        return []
    texts = [
        file.read_text(encoding="utf-8", errors="replace") for file in sorted(folder.glob("*.txt"))
    ]
    logger.info("read %d unlabelled reviews from %s", len(texts), folder)
    return texts


def _read_labelled_frame(path: Path, text_column: str, label_column: str) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    for column in (text_column, label_column):
        if column not in frame.columns:
            raise DataError(
                f"{path} has no column {column!r} (found: {', '.join(frame.columns)}): "
                "set --text-column and --label-column"
            )
    return frame


def _to_reviews(frame: pd.DataFrame, path: Path, text_column: str, label_column: str) -> Reviews:
    try:
        labels = parse_labels(frame[label_column], label_column, str(path))
    except InputError as error:
        raise DataError(str(error)) from error
    return Reviews(texts=frame[text_column].tolist(), labels=labels.astype(np.int32))


def load_csv(path: Path, text_column: str, label_column: str) -> Reviews:
    """Read one CSV file of labelled reviews."""
    frame = _read_labelled_frame(path, text_column, label_column)
    reviews = _to_reviews(frame, path, text_column, label_column)
    logger.info("read %d reviews from %s", len(reviews), path)
    return reviews


def split_csv(path: Path, text_column: str, label_column: str) -> Dataset:
    """Read one CSV file whose `split` column is `train` or `test` in each row."""
    frame = _read_labelled_frame(path, text_column, label_column)
    if "split" not in frame.columns:
        raise DataError(
            f"{path} has no 'split' column: add one with train/test per row, "
            "or give a folder with train.csv and test.csv"
        )
    split = frame["split"].str.strip().str.lower()
    return Dataset(
        train=_to_reviews(frame[split == "train"], path, text_column, label_column),
        test=_to_reviews(frame[split == "test"], path, text_column, label_column),
        source=str(path),
    )


def load_keras_imdb(cache_dir: str | Path | None = None) -> Dataset:
    """Load the Keras copy of IMDB and turn its word ids back into text.

    The files `imdb.npz` and `imdb_word_index.json` are taken from the Keras cache folder
    (`~/.keras/datasets`, or `cache_dir/datasets`) and downloaded only when absent. Word ids in
    that copy are frequency ranks shifted by 3; ids 0 to 2 are padding, start and unknown.
    """
    import keras

    options = {"cache_dir": str(cache_dir)} if cache_dir is not None else {}
    arrays_path = keras.utils.get_file("imdb.npz", origin=KERAS_ORIGIN + "imdb.npz", **options)
    index_path = keras.utils.get_file(
        "imdb_word_index.json", origin=KERAS_ORIGIN + "imdb_word_index.json", **options
    )
    word_index = json.loads(Path(index_path).read_text(encoding="utf-8"))
    words_by_id = {rank + 3: word for word, rank in word_index.items()}

    def decode(sequences: np.ndarray) -> list[str]:
        return [" ".join(words_by_id[i] for i in seq if i in words_by_id) for seq in sequences]

    with np.load(arrays_path, allow_pickle=True) as arrays:
        return Dataset(
            train=Reviews(decode(arrays["x_train"]), arrays["y_train"].astype(np.int32)),
            test=Reviews(decode(arrays["x_test"]), arrays["y_test"].astype(np.int32)),
            source=str(arrays_path),
        )


def split_validation(reviews: Reviews, fraction: float, seed: int) -> tuple[Reviews, Reviews]:
    """Split off a shuffled validation set that contains both labels.

    When the films of the reviews are known, whole films go to one side: the test reviews are
    about other films than the training reviews, and a validation set that shared films with
    training would reward remembering them. Otherwise the split is stratified by label.
    """
    if not 0 < fraction < 1:
        raise DataError(f"validation fraction {fraction} is invalid: use a value between 0 and 1")
    generator = np.random.default_rng(seed)
    for label in (0, 1):
        if np.count_nonzero(reviews.labels == label) < 2:
            raise DataError(
                f"the training data has {np.count_nonzero(reviews.labels == label)} review(s) "
                f"with label {label}: both labels need at least 2 reviews"
            )
    if reviews.films is not None:
        in_validation = _split_by_film(reviews, fraction, generator)
    else:
        in_validation = _split_by_label(reviews, fraction, generator)

    def take(mask: np.ndarray) -> Reviews:
        rows = np.flatnonzero(mask)
        generator.shuffle(rows)
        films = None if reviews.films is None else [reviews.films[i] for i in rows]
        return Reviews([reviews.texts[i] for i in rows], reviews.labels[rows], films)

    return take(~in_validation), take(in_validation)


def _split_by_label(reviews: Reviews, fraction: float, generator) -> np.ndarray:
    validation_rows: list[np.ndarray] = []
    for label in (0, 1):
        rows = np.flatnonzero(reviews.labels == label)
        generator.shuffle(rows)
        validation_rows.append(rows[: max(1, round(len(rows) * fraction))])
    in_validation = np.zeros(len(reviews), dtype=bool)
    in_validation[np.concatenate(validation_rows)] = True
    return in_validation


def _split_by_film(reviews: Reviews, fraction: float, generator) -> np.ndarray:
    films = np.asarray(reviews.films)
    names, film_of_review = np.unique(films, return_inverse=True)
    order = generator.permutation(len(names))
    counts = np.bincount(film_of_review, minlength=len(names))[order]
    # Whole films in shuffled order, until the validation set contains its share of the reviews.
    chosen = order[: int(np.searchsorted(np.cumsum(counts), round(len(reviews) * fraction))) + 1]
    in_validation = np.isin(film_of_review, chosen)
    if in_validation.all() or len(set(reviews.labels[in_validation].tolist())) < 2:
        logger.warning("the films cannot be split with both labels on each side: split by label")
        return _split_by_label(reviews, fraction, generator)
    logger.info(
        "validation: %d reviews of %d films, none of which is in training",
        in_validation.sum(),
        len(chosen),
    )
    return in_validation
