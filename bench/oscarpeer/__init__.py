"""The benchmark's peer: a django-oscar 4 shop without order_updates.

It runs in a process of its own (``python -m bench.oscarpeer``, in a Python
that has django-oscar), with its own settings and database, and answers the
benchmark's requests one JSON line each (bench/peer.py is the other end). See
bench/README.md, "The peer".
"""
