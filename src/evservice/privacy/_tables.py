"""Tables of personal data protection (Alembic branch ``privacy``).

* ``privacy_key``: the data keys, each wrapped by the KEK, one generation after
  another per scope (``retention``, ``index``, ``subject:<blind index>``). A
  retired or destroyed key keeps its row (its id, dates and scope) and loses
  its wrapped material. A rotation first marks the live keys superseded: they
  still open what they sealed, and new values go under a new generation.
* ``privacy_job``: the progress of a rotation or a migration, so a killed run
  resumes where it stopped.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from evservice.store import UTCDateTime

__all__ = ["PrivacyJob", "PrivacyKey"]


class PrivacyKey(SQLModel, table=True):
    """One data key: random 256 bits, stored only wrapped by the KEK (``kek_id``)."""

    __tablename__ = "privacy_key"
    __table_args__ = (sa.UniqueConstraint("scope", "generation", name="uq_privacy_key_scope"),)
    id: str = Field(primary_key=True, max_length=16)
    scope: str = Field(max_length=80, index=True)
    generation: int
    wrapped: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    kek_id: str = Field(max_length=16)
    created_at: datetime = Field(sa_type=UTCDateTime)
    superseded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    destroyed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PrivacyJob(SQLModel, table=True):
    """A rotation or migration in progress (or the last one done).

    ``cursor_json`` maps each table to the last primary key it finished;
    ``rows_done`` counts the values sealed again.
    """

    __tablename__ = "privacy_job"
    name: str = Field(primary_key=True, max_length=20)
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cursor_json: str = Field(default="{}", sa_type=sa.Text)
    rows_done: int = Field(default=0, sa_type=sa.BigInteger)
