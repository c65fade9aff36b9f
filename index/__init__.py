"""NewsQA engine: ingestion, hybrid retrieval and extractive answers with citations.

Nothing in this package imports ``telegram``; the bot, the HTTP API and the CLI are thin
front ends over :class:`index.engine.Engine`.
"""
