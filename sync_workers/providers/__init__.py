"""One adapter per provider behind small protocols; a shared HTTP session at the edge."""
