"""``python -m bot``: refresh the index from the corpus, then run the Telegram bot.

Example:
    TELEGRAM_BOT_TOKEN=123:abc python -m bot
"""

from __future__ import annotations

import logging
import sys

from pydantic import ValidationError


def main() -> int:
    """Settings from the environment and .env, logging without the token, then the bot."""
    from index.cli import open_engine
    from index.errors import NewsQAError
    from index.settings import Settings

    try:
        settings = Settings()
    except ValidationError as e:
        first = e.errors()[0]
        print(f"bad setting {first['loc'][0]}: {first['msg']} (check .env)", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("faiss.loader", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not settings.telegram_bot_token:
        print("TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather and put it in .env "
              "(or run 'newsqa chat' to ask in the terminal).", file=sys.stderr)
        return 2
    from bot.app import quiet_http_logs, run_bot

    quiet_http_logs(settings.telegram_bot_token)
    try:
        engine = open_engine(settings, refresh=True, warm=True)  # the first question is as fast as the rest
        run_bot(settings, engine)
    except NewsQAError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C while waiting for Telegram or loading the model
        print("stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
