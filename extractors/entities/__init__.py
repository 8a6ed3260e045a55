"""Entity extractors: spaCy NER (spacy.py) and the fine-tuned transformer token tagger (tagger.py)."""
