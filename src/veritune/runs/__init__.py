"""The run directory: its manifest and store (``store.py``), its lock (``lock.py``) and the
keys that decide what runs again (``keys.py``). Walking the stages over it is
``veritune.pipeline``'s."""
