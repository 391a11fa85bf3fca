"""What a person reads: the run's report (``markdown.py``, ``html.py``), the tables of several
seeds (``seeds.py``), the model card (``card.py``), all tables written by ``tables.py``."""
