"""One typed settings object, read from the environment and ``.env``; built only in entry points."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "multilingual-e5-small"


def parse_ids(text: str) -> frozenset[int]:
    """Comma- or space-separated Telegram user/chat ids; an empty text means none."""
    out = set()
    for part in text.replace(",", " ").split():
        try:
            out.add(int(part))
        except ValueError:
            raise ValueError(f"{part!r} is not a Telegram id (a whole number, negative for groups)") from None
    return frozenset(out)


class Settings(BaseSettings):
    """Every setting the CLI, the bot and the HTTP API honour (documented in ``.env.example``)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    corpus_dir: Path = Field(Path("corpus"), validation_alias="NEWSQA_CORPUS_DIR")
    data_dir: Path = Field(Path("data"), validation_alias="NEWSQA_DATA_DIR")
    embedding_model: str = Field(DEFAULT_MODEL, validation_alias="NEWSQA_EMBEDDING_MODEL")
    top_k: int = Field(5, ge=1, le=50, validation_alias="NEWSQA_TOP_K")
    max_question_chars: int = Field(1000, ge=10, le=100_000, validation_alias="NEWSQA_MAX_QUESTION_CHARS")
    log_level: str = Field("INFO", validation_alias="NEWSQA_LOG_LEVEL")
    max_remove_share: float = Field(0.5, ge=0, le=1, validation_alias="NEWSQA_MAX_REMOVE_SHARE")
    build_workers: int | None = Field(None, ge=1, le=256, validation_alias="NEWSQA_BUILD_WORKERS")

    # HTTP API (newsqa serve)
    api_host: str = Field("127.0.0.1", validation_alias="NEWSQA_API_HOST")
    api_port: int = Field(8000, ge=1, le=65535, validation_alias="NEWSQA_API_PORT")
    api_key: str | None = Field(None, validation_alias="NEWSQA_API_KEY")

    # Telegram bot (python -m bot, or make run with a token)
    telegram_bot_token: str | None = Field(None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_base_url: str = Field("https://api.telegram.org/bot", validation_alias="TELEGRAM_BASE_URL")
    telegram_webhook_url: str | None = Field(None, validation_alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: str | None = Field(None, validation_alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_webhook_listen: str = Field("0.0.0.0", validation_alias="TELEGRAM_WEBHOOK_LISTEN")
    telegram_webhook_port: int = Field(8443, ge=1, le=65535, validation_alias="TELEGRAM_WEBHOOK_PORT")
    telegram_allowed_ids_text: str = Field("", validation_alias="TELEGRAM_ALLOWED_IDS")
    telegram_admin_ids_text: str = Field("", validation_alias="TELEGRAM_ADMIN_IDS")
    telegram_user_quota: int = Field(20, ge=1, validation_alias="TELEGRAM_USER_QUOTA")
    telegram_quota_window: int = Field(60, ge=1, validation_alias="TELEGRAM_QUOTA_WINDOW")

    @field_validator("corpus_dir", "data_dir")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        """Relative paths are taken from the folder the command runs in, once, at start-up."""
        return path.expanduser().absolute()

    @field_validator("build_workers", mode="before")
    @classmethod
    def _unset_if_empty(cls, value: object) -> object:
        """``NEWSQA_BUILD_WORKERS=`` (empty) means unset: one worker per core."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("telegram_allowed_ids_text", "telegram_admin_ids_text")
    @classmethod
    def _check_ids(cls, text: str) -> str:
        """A typo in an id list stops start-up: checked per update, it would let everyone in."""
        parse_ids(text)
        return text

    @property
    def telegram_allowed_ids(self) -> frozenset[int]:
        """Users and chats allowed to use the bot; empty means everyone."""
        return parse_ids(self.telegram_allowed_ids_text)

    @property
    def telegram_admin_ids(self) -> frozenset[int]:
        return parse_ids(self.telegram_admin_ids_text)

    @property
    def chat_history(self) -> Path:
        """Questions typed in the terminal chat, recalled with the arrow keys next time."""
        return self.data_dir / "chat_history"

    @property
    def feedback_db(self) -> Path:
        """Feedback lives beside the index, not inside it: re-indexing never loses it."""
        return self.data_dir / "feedback.db"
