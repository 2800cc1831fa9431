"""The howold web page (Streamlit): `howold app`, or `streamlit run howold/app/main.py`.

Only `launch` is imported by the command line; it needs nothing beyond the standard library.
"""
