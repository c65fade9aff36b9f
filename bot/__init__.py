"""The Telegram front end of NewsQA: python-telegram-bot v22 over one :class:`index.engine.Engine`."""
