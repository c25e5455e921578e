"""Every PostgreSQL advisory lock id of the platform, in one place, so that no two features pick the same one.

A lock is either one key (`pg_advisory_lock(id)`) or a class and a second key (`pg_advisory_lock(class, key)`).
"""

from typing import Final

#: Advisory lock of "applying schema migrations" (one key); legacy adoption takes it too.
MIGRATION_LOCK_ID: Final = 7_301_001
#: Advisory-lock class of "loading a batch"; the second key is the hash of the batch id.
BATCH_LOCK_CLASS: Final = 7_301_002
#: Advisory-lock class of "a load's staging tables are in use"; the second key is the load number.
STAGING_LOCK_CLASS: Final = 7_301_003
#: Advisory lock of "refreshing store_daily_sales" (one key): refreshes run one at a time.
STORE_DAILY_SALES_REFRESH_LOCK_ID: Final = 7_301_004
