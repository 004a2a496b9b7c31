"""The Textual dashboard. Only `emotui` without a subcommand (and `emotui serve`) imports this package."""
