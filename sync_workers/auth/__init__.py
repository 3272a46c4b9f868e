"""OAuth: accounts, encrypted tokens, get_valid_token(account_id), connect flows.

The rest of the code asks `get_valid_token(account_id)` (or `authorized_request(...)`) and
never cares whether the token came from storage or from a refresh.
"""
from .authorized import authorized_request
from .stored import AccountNotFound, AccountParked, Token
from .tokens import get_valid_token, invalidate

__all__ = ["AccountNotFound", "AccountParked", "Token", "authorized_request",
           "get_valid_token", "invalidate"]
