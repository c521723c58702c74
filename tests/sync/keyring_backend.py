"""A keyring backend for ``crm`` child processes in tests: the JSON file named by
``CRM_TEST_KEYRING`` (select it with ``PYTHON_KEYRING_BACKEND=tests.sync.keyring_backend.EnvFileKeyring``)."""

from __future__ import annotations

import os

from tests.fake_amocrm.keyrings import FileKeyring


class EnvFileKeyring(FileKeyring):
    def __init__(self) -> None:
        super().__init__(os.environ["CRM_TEST_KEYRING"])
