#!/usr/bin/env bash
# Download into .whl/ (gitignored) the Python 3.12 wheels that the H200 image lacks and
# `python -m train` imports: albumentations 2.0.8 and what it needs, and mlflow-skinny with its
# imports (training with tracking.enabled=false still imports MLflow). The versions are the set
# that ran there on the first lease; importlib-metadata stays at 8.7 because 10.x needs lazy-importer.
# Run from the repository root, on a machine that reaches the package registry.
set -euo pipefail
mkdir -p .whl
for spec in albumentations==2.0.8 albucore==0.0.24 pydantic==2.14.4 pydantic-core==2.50.5 \
    annotated-types==0.8.0 typing-inspection==0.4.5 simsimd==6.5.16 stringzilla==5.3.2 \
    mlflow-skinny==3.17.2 mlflow-tracing==3.17.2 cachetools==8.0.2 databricks-sdk==0.162.0 \
    google-auth==2.63.0 pyasn1==0.6.5 pyasn1-modules==0.4.2 rsa==4.9.1 fastapi==0.165.0 \
    starlette==1.10.0 uvicorn==0.54.0 gitpython==3.2.1 gitdb==4.0.12 smmap==5.0.3 \
    importlib-metadata==8.7.0 opentelemetry-api==1.45.2 opentelemetry-sdk==1.45.2 \
    opentelemetry-proto==1.45.2 opentelemetry-semantic-conventions==0.66b2 \
    python-dotenv==1.2.4 sqlparse==0.6.1; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl "$spec"
done
du -sh .whl
