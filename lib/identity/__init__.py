"""Who is signed in: Clerk token verification (tokens, redirects), local accounts (credentials,
throttle) and the Streamlit sign-in around them (signin.gate, clerk_signin, local_signin, session,
navigation)."""
