"""Accounts: members and operators, registration, login, profiles, suspension."""
