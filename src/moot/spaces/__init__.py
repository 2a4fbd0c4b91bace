"""Spaces, their members and invites (issue 17): what account holders keep between meetings."""
