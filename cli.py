"""`python cli.py …` from a checkout; the installed console script `skills-rules` is the same."""
from engine.cli import main

if __name__ == "__main__":
    main()
