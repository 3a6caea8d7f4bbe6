"""Files: uploads, private files behind signed URLs, public files by plain URL."""
