import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from train.data import (  # noqa: E402
    DataError,
    load_dataset,
    load_keras_imdb,
    split_validation,
)


def write_aclimdb(root, reviews_per_class=3):
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for index in range(reviews_per_class):
                rating = 9 if label == "pos" else 2
                text = f"{split} {label} review number {index}<br />second line"
                (folder / f"{index}_{rating}.txt").write_text(text, encoding="utf-8")


def test_aclimdb_folder_labels_and_counts(tmp_path):
    write_aclimdb(tmp_path)
    dataset = load_dataset(tmp_path)
    assert len(dataset.train) == 6
    assert len(dataset.test) == 6
    assert dataset.train.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert dataset.train.texts[0].startswith("train neg review")
    assert dataset.test.texts[-1].startswith("test pos review")


def test_aclimdb_missing_class_folder(tmp_path):
    write_aclimdb(tmp_path)
    for file in (tmp_path / "test" / "neg").iterdir():
        file.unlink()
    (tmp_path / "test" / "neg").rmdir()
    with pytest.raises(DataError, match="neg"):
        load_dataset(tmp_path)


def test_csv_folder_with_word_labels(tmp_path):
    (tmp_path / "train.csv").write_text(
        'review,sentiment\n"good, really",pos\nbad,neg\nfine,Positive\n', encoding="utf-8"
    )
    (tmp_path / "test.csv").write_text("review,sentiment\nok,1\nno,0\n", encoding="utf-8")
    dataset = load_dataset(tmp_path)
    assert dataset.train.texts == ["good, really", "bad", "fine"]
    assert dataset.train.labels.tolist() == [1, 0, 1]
    assert dataset.test.labels.tolist() == [1, 0]


def test_csv_file_with_split_column(tmp_path):
    path = tmp_path / "all.csv"
    path.write_text("text,label,split\na,1,train\nb,0,train\nc,1,test\n", encoding="utf-8")
    dataset = load_dataset(path, text_column="text", label_column="label")
    assert dataset.train.texts == ["a", "b"]
    assert dataset.test.texts == ["c"]


def test_csv_invalid_label_names_row(tmp_path):
    path = tmp_path / "all.csv"
    path.write_text("review,sentiment,split\na,maybe,train\n", encoding="utf-8")
    with pytest.raises(DataError, match="'maybe' in column 'sentiment', data row 1"):
        load_dataset(path)


def test_csv_missing_column_lists_found(tmp_path):
    path = tmp_path / "all.csv"
    path.write_text("body,sentiment,split\na,1,train\n", encoding="utf-8")
    with pytest.raises(DataError, match="found: body, sentiment, split"):
        load_dataset(path)


def test_missing_path(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_dataset(tmp_path / "absent")


def test_keras_copy_from_local_cache(tmp_path):
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    # Word ids are frequency ranks shifted by 3, as in the Keras copy.
    word_index = {"great": 1, "awful": 2, "film": 3}
    (datasets / "imdb_word_index.json").write_text(json.dumps(word_index))
    sequences = np.empty(2, dtype=object)
    sequences[0] = [1, 4, 6]
    sequences[1] = [1, 5, 6, 2]
    np.savez(
        datasets / "imdb.npz",
        x_train=sequences,
        y_train=np.array([1, 0]),
        x_test=sequences,
        y_test=np.array([1, 0]),
    )
    dataset = load_keras_imdb(cache_dir=tmp_path)
    assert dataset.train.texts == ["great film", "awful film"]
    assert dataset.train.labels.tolist() == [1, 0]
    assert dataset.test.texts == ["great film", "awful film"]


def test_validation_split_holds_both_labels(tmp_path):
    write_aclimdb(tmp_path, reviews_per_class=50)
    dataset = load_dataset(tmp_path)
    train, validation = split_validation(dataset.train, 0.2, seed=3)
    assert len(validation) == 20
    assert len(train) == 80
    assert set(validation.labels.tolist()) == {0, 1}
    assert not set(validation.texts) & set(train.texts)


def test_validation_split_depends_on_seed(tmp_path):
    write_aclimdb(tmp_path, reviews_per_class=50)
    dataset = load_dataset(tmp_path)
    first = split_validation(dataset.train, 0.2, seed=3)[1].texts
    again = split_validation(dataset.train, 0.2, seed=3)[1].texts
    other = split_validation(dataset.train, 0.2, seed=4)[1].texts
    assert first == again
    assert first != other


def write_film_addresses(root, reviews_per_class, films):
    # Review N of each class is about film N % films, as in aclImdb's urls_*.txt files.
    for label in ("pos", "neg"):
        lines = [
            f"http://www.imdb.com/title/tt{index % films:07d}/usercomments"
            for index in range(reviews_per_class)
        ]
        (root / "train" / f"urls_{label}.txt").write_text("\n".join(lines) + "\n")


def test_validation_split_keeps_each_film_on_one_side(tmp_path):
    write_aclimdb(tmp_path, reviews_per_class=60)
    write_film_addresses(tmp_path, reviews_per_class=60, films=12)
    dataset = load_dataset(tmp_path)
    assert dataset.train.films[0].endswith("tt0000000/usercomments")
    train, validation = split_validation(dataset.train, 0.25, seed=3)
    assert not set(train.films) & set(validation.films)
    assert 25 <= len(validation) <= 40
    assert set(validation.labels.tolist()) == {0, 1}
    assert len(train) + len(validation) == 120


def test_validation_split_by_label_when_addresses_miss_reviews(tmp_path):
    write_aclimdb(tmp_path, reviews_per_class=50)
    write_film_addresses(tmp_path, reviews_per_class=10, films=5)
    dataset = load_dataset(tmp_path)
    assert dataset.train.films is None
    train, validation = split_validation(dataset.train, 0.2, seed=3)
    assert len(validation) == 20
