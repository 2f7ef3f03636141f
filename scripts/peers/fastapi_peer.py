"""The FastAPI peer of scripts/rest-compare.sh: GET /orders/{token_id} doing only the
bearer JWT check with PyJWT (HS256), the way the original Python design served it.

    JWT_SECRET=... uvicorn --app-dir scripts/peers fastapi_peer:app --port 8001
"""

import os

import jwt
from fastapi import FastAPI, Header, HTTPException

app = FastAPI()
SECRET = os.environ["JWT_SECRET"]


@app.get("/orders/{token_id}")
def order(token_id: str, authorization: str = Header(default="")) -> dict:
    if not authorization.startswith("Bearer "):
        raise HTTPException(status_code=401)
    try:
        claims = jwt.decode(authorization[7:], SECRET, algorithms=["HS256"])
    except jwt.PyJWTError:
        raise HTTPException(status_code=401) from None
    return {"token_id": token_id, "user": claims["sub"]}
