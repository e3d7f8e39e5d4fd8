"""The filters that decide which generated rows a dataset keeps, each dropping a row with a short,
stable reason key (`words`, `echo.label`, `near_copy`, `fluency`, `dedupe.near`, `oracle`, …) and
its details, so the manifest and card can say what each filter dropped per label.

- pipeline.py: the filters in order over a variant's candidates (`apply_filters`);
- oracle.py: the label oracle, calibrated per label on held-out real rows;
- shingles.py: word n-gram shingles (near-copy of seeds/sources; the oracle's copy guard);
- dedupe.py, cartography.py: exact/near duplicates and dataset cartography.

Kept free of imports so `runtime.postprocess` (Candidate, parsing) and these modules can import
each other's pieces without a cycle.
"""
