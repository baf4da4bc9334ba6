"""The samlabel Django project: settings, URLs and one app per domain noun."""
