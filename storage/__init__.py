"""SQLite storage: the database file, its migrations, and one repository per aggregate."""
