"""Fine-tuning and model artifacts: the shared loop (loop.py), one trainer per model (relations.py,
tagger.py, spacy_ner.py), calibration, weight averaging and model cards."""
