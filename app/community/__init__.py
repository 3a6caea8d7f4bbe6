"""The community tree (district → street → community → estate → building → unit → household) and its scope kind.

Other packages read it through ``app.community.services`` (``get_household``, ``household_address``) and check
access with ``app.auth.scopes``; importing this package registers the ``community`` scope kind.
"""

from app.community import scope as _scope  # noqa: F401  (registers the "community" scope kind)
