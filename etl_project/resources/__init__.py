"""The resources every feature shares: the ETL database and the shared directory of batch files.

These are the classes; `etl_project/defs/resources.py` configures them from the environment for the code
location. Resources of one feature live in that feature's folder (`etl_project/defs/<feature>/resources.py`).
"""

from etl_project.resources.postgres import EtlDatabase
from etl_project.resources.shared_directory import SharedDirectory

__all__ = ["EtlDatabase", "SharedDirectory"]
