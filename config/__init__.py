"""The standalone server: a Django project that installs our apps like any host would.

Its settings are the only code that reads the environment; its URLs mount
``realtime.urls`` beside the example site (``news``) and Django's admin and login.
"""
