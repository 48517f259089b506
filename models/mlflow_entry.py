"""Entry point MLflow runs when it loads a Muzhang model ("models from code"); not imported by Muzhang."""

from mlflow.models import set_model

from models.pyfunc import MuzhangPyfunc

set_model(MuzhangPyfunc())
