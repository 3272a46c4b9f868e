"""OAuth: accounts, encrypted tokens, get_valid_token(account_id), connect flows."""
