"""Accounts and their sign-in sessions (issue 17): optional, on top of anonymous use."""
