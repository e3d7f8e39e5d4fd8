"""Hugging Face datasets both ways, checked with `datasets` itself: every export format loads with
`datasets.load_dataset`, the `hf` export with the right features (label a ClassLabel over the label
set's names, provenance a struct) and an HF card; `save_to_disk` folders and Parquet/JSONL shard
folders with a card are sources (split and column mapping), hashed into synth.lock; `synthc init`
scaffolds from an HF folder."""

from __future__ import annotations

import io
import json
import os
import re
import shutil

import pytest

from conftest import DATA
from synthc.cli import main
from synthc.compiler import compile_file
from synthc.runtime import execute
from synthc.runtime.io.data import load_source, source_sha256

datasets = pytest.importorskip("datasets")


@pytest.fixture(autouse=True)
def _offline(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", os.path.join(str(tmp_path), "hf-cache"))
    monkeypatch.chdir(str(tmp_path))


def _rows(path: str, n: int) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for _, line in zip(range(n), fh)]


SPEC = '''
model writer {{
  gguf = builtin("smollm2-135m")
}}

labels spam {{
  ham  = "an ordinary personal text message"
  spam = "an unsolicited promotional text message"
}}

source seeds {{
  path  = "{source}"
  label = "label"
{extra}}}

task messages {{
  labels    = spam
  model     = writer
  seeds     = seeds
  per_label = 2
  prompt    = "Write a text message that is {{{{ verbalization }}}}."

  variant zero_shot {{}}

  variant few_shot {{
    prompt = "{{{{ demos }}}}\\nWrite one more, {{{{ verbalization }}}}."

    fewshot {{
      shots = 2
    }}
  }}
}}

export as_jsonl {{
  task = messages
  path = "out/jsonl/{{variant}}.jsonl"
}}

export as_csv {{
  task = messages
  path = "out/csv/{{variant}}.csv"
}}

export as_parquet {{
  task = messages
  path = "out/parquet/{{variant}}.parquet"
}}

export as_hf {{
  task = messages
  path = "out/hf/"
}}
'''


def _build(source: str, extra: str = "") -> str:
    with open("r.synth", "w", encoding="utf-8") as fh:
        fh.write(SPEC.format(source=source, extra=extra))
    result = compile_file("r.synth")
    assert result.ok and result.plan is not None, result.diagnostics
    execute(result.plan, result.sources, quiet=True, backend="fake")
    return "r.synth"


def test_every_export_format_loads_with_datasets() -> None:
    shutil.copy(os.path.join(DATA, "sms_spam", "train.jsonl"), "sms_train.jsonl")  # inside the project (path policy)
    _build("sms_train.jsonl")
    expected = {v: [json.loads(line) for line in open(f"out/jsonl/{v}.jsonl")] for v in ("zero_shot", "few_shot")}
    for v, rows in expected.items():
        assert rows
        for builder, ext in (("json", "jsonl"), ("csv", "csv"), ("parquet", "parquet")):
            loaded = datasets.load_dataset(builder, data_files=f"out/{ext}/{v}.{ext}", split="train")
            assert loaded.num_rows == len(rows) and loaded["text"] == [r["text"] for r in rows], (builder, v)
        hf = datasets.load_dataset("out/hf", v, split="train")
        assert hf.features["label"] == datasets.ClassLabel(names=["ham", "spam"])
        assert [hf.features["label"].int2str(x) for x in hf["label"]] == [r["label"] for r in rows]
        assert isinstance(hf.features["provenance"], dict) and hf[0]["provenance"]["variant"] == v
        assert hf["text"] == [r["text"] for r in rows]
    card = open("out/hf/README.md", encoding="utf-8").read()
    yaml = pytest.importorskip("yaml")
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["license"] == "other" and header["task_categories"] == ["text-classification"]
    assert [c["config_name"] for c in header["configs"]] == ["zero_shot", "few_shot"]
    assert [i["config_name"] for i in header["dataset_info"]] == ["zero_shot", "few_shot"]
    manifest = json.load(open("out/hf/manifest.json"))
    assert set(manifest["files"]) == {"data/zero_shot-00000-of-00001.parquet", "data/few_shot-00000-of-00001.parquet"}
    jsonl_card = open("out/jsonl/README.md", encoding="utf-8").read()
    assert "license: other" in jsonl_card and "- text-classification" in jsonl_card


def _spam_dict() -> object:
    features = datasets.Features({"id": datasets.Value("string"), "text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["ham", "spam"])})
    splits = {}
    for split in ("train", "test"):
        rows = _rows(os.path.join(DATA, "sms_spam", f"{split}.jsonl"), 60)
        splits[split] = datasets.Dataset.from_list(
            [{"id": r["id"], "text": r["text"], "label": r["label"]} for r in rows], features=features)
    return datasets.DatasetDict(splits)


def test_a_save_to_disk_folder_is_a_source_with_a_split() -> None:
    _spam_dict().save_to_disk("spam_hf")  # type: ignore[attr-defined]
    _build("spam_hf", '  split = "test"\n')
    program = compile_file("r.synth").program
    assert program is not None and program.source("seeds").format == "hf"
    rows = load_source(program.source("seeds"), ".")
    want = _rows(os.path.join(DATA, "sms_spam", "test.jsonl"), 60)
    assert [(r.id, r.text, r.label) for r in rows] == [(w["id"], w["text"], w["label"]) for w in want]
    digest = source_sha256(program.source("seeds"), ".")
    assert len(digest) == 64 and digest == source_sha256(program.source("seeds"), ".")
    open(os.path.join("spam_hf", ".DS_Store"), "w").write("x")  # hidden files are not content
    assert source_sha256(program.source("seeds"), ".") == digest
    _spam_dict()["train"].select(range(10)).save_to_disk("other")  # type: ignore[index]
    os.replace(os.path.join("other", "data-00000-of-00001.arrow"),
               os.path.join("spam_hf", "test", "data-00000-of-00001.arrow"))
    assert source_sha256(program.source("seeds"), ".") != digest  # synth.lock sees the change


def test_a_folder_of_jsonl_shards_with_a_card_and_column_mapping() -> None:
    os.makedirs("shards")
    for split in ("train", "test"):
        with open(os.path.join("shards", f"{split}.jsonl"), "w", encoding="utf-8") as fh:
            for r in _rows(os.path.join(DATA, "sms_spam", f"{split}.jsonl"), 40):
                fh.write(json.dumps({"uid": r["id"], "message": r["text"], "category": r["label"]}) + "\n")
    with open(os.path.join("shards", "README.md"), "w", encoding="utf-8") as fh:
        fh.write("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: train.jsonl\n"
                 "  - split: test\n    path: test.jsonl\n---\n# SMS\n")
    text = SPEC.format(source="shards", extra='  split = "test"\n')
    text = text.replace('label = "label"', 'label = "category"\n  text  = "message"\n  id    = "uid"')
    open("r.synth", "w", encoding="utf-8").write(text)
    program = compile_file("r.synth").program
    assert program is not None
    rows = load_source(program.source("seeds"), ".")
    assert [r.text for r in rows] == [r["text"] for r in _rows(os.path.join(DATA, "sms_spam", "test.jsonl"), 40)]
    assert rows[0].id.startswith("sms") and {r.label for r in rows} <= {"ham", "spam"}


def test_a_missing_split_is_a_coded_error() -> None:
    _spam_dict().save_to_disk("spam_hf")  # type: ignore[attr-defined]
    with open("r.synth", "w", encoding="utf-8") as fh:
        fh.write(SPEC.format(source="spam_hf", extra='  split = "dev"\n'))
    err = io.StringIO()
    assert main(["build", "r.synth", "--backend", "fake", "--quiet", "--format", "concise"], io.StringIO(), err) == 1
    assert "error[E508]" in err.getvalue() and "no split `dev`" in err.getvalue()


def test_init_scaffolds_from_an_hf_folder() -> None:
    _spam_dict().save_to_disk("spam_hf")  # type: ignore[attr-defined]
    out, err = io.StringIO(), io.StringIO()
    assert main(["init", "spam_hf", "--out", "spam.synth"], out, err) == 0, err.getvalue()
    assert main(["check", "spam.synth"], io.StringIO(), err) == 0, err.getvalue()
    assert main(["fmt", "--check", "spam.synth"], io.StringIO(), err) == 0, err.getvalue()
    text = open("spam.synth", encoding="utf-8").read()
    assert re.search(r'split += +"test"', text) and re.search(r"ham +=.*# \d+ rows in the data", text)


def _cache_hub_dataset(repo: str, rows: list[dict]) -> None:
    """Lay out `repo` in the HF cache as a download leaves it: <cache>/<owner>___<name>/<config>/
    <version>/<hash>/ with dataset_info.json and Arrow shards (prepared by datasets' own builder)."""
    import shutil

    from datasets.data_files import DataFilesDict
    from datasets.packaged_modules.json.json import Json

    with open("staged.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    staging = os.path.abspath("staging-cache")
    builder = Json(cache_dir=staging, dataset_name=repo.split("/")[-1], hash="0" * 16,
                   data_files=DataFilesDict.from_patterns({"train": ["staged.jsonl"]}, base_path="."))
    builder.download_and_prepare()
    target = os.path.join(datasets.config.HF_DATASETS_CACHE, repo.replace("/", "___"), "default", "0.0.0", "0" * 16)
    shutil.copytree(builder.cache_dir, target)


def test_a_dataset_in_the_local_hf_cache_loads_offline() -> None:
    rows = _rows(os.path.join(DATA, "sms_spam", "train.jsonl"), 30)
    _cache_hub_dataset("acme/sms", rows)
    with open("r.synth", "w", encoding="utf-8") as fh:
        fh.write(SPEC.format(source="hf:acme/sms", extra=""))
    result = compile_file("r.synth")
    assert result.ok and result.program is not None, result.diagnostics  # no E410: the cache is not a path
    src = result.program.source("seeds")
    assert src.format == "hf" and src.path == "hf:acme/sms"
    assert [r.text for r in load_source(src, ".")] == [r["text"] for r in rows]
    assert len(source_sha256(src, ".")) == 64
    with open("r.synth", "w", encoding="utf-8") as fh:
        fh.write(SPEC.format(source="hf:acme/absent", extra=""))
    err = io.StringIO()
    assert main(["build", "r.synth", "--backend", "fake", "--quiet", "--format", "concise"], io.StringIO(), err) == 1
    assert "error[E503]" in err.getvalue() and "never downloads" in err.getvalue()
