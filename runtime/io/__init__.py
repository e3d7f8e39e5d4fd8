"""Reading data (files, Hugging Face) and writing datasets: atomic files and export sets."""
