"""Scripts run from the repository root as modules (`python -m scripts.ui_check`), so that the project and
its test support (etl_testkit) import without patching sys.path."""
