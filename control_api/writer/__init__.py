"""The script writer: prose adapted into drama scripts (offline rules now; an LLM in issue 16's next
part), and the checks every draft passes before it is a script."""
