#!/usr/bin/env python
import os
import sys

from paperpost.embedded import prepare


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paperpost.settings")
    prepare()  # var/ and, in the embedded mode, its secret key: before the settings are read
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
