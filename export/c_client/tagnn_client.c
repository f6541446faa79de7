/* Score one session with an exported TAGNN SavedModel through the TensorFlow C API.
 *
 *   tagnn_client <version_dir> <input_tensor> <top_k_ids_tensor> <top_k_scores_tensor> ITEM [ITEM ...]
 *
 * ITEMs are the shop's raw item ids (the `serving_default` signature takes and
 * returns them as strings; unknown ids are dropped by the model and counted).
 *
 * Tensor names come from the signature: each export records them in
 * <version_dir>/assets.extra/tagnn_export.json ("tensor_names"; they change with
 * the signatures an export has), e.g. serving_default_session_items:0 and
 * StatefulPartitionedCall_1:1 (also `saved_model_cli show`). Prints one line
 * per recommendation: "<rank> <item id> <score>". Exit status 1 on any error.
 *
 * Before the call it checks what the export defines as a request: the input
 * tensor is a string tensor of rank 2 ([batch, length]; this client sends
 * [1, n]), the ids output a string tensor and both outputs rank 2, so a wrong
 * tensor name fails with a clear message instead of a kernel error.
 *
 * Build (TF = the installed `tensorflow` Python package folder):
 *   gcc tagnn_client.c -o tagnn_client -I$TF/include -L$TF \
 *       -l:libtensorflow_cc.so.2 -l:libtensorflow_framework.so.2 -Wl,-rpath,$TF
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensorflow/c/c_api.h"
#include "tensorflow/c/tf_tstring.h"

static int fail(const char *what, TF_Status *status) {
  fprintf(stderr, "error: %s: %s\n", what, status ? TF_Message(status) : "");
  return 1;
}

/* "name:index" -> TF_Output in `graph`. */
static int find_output(TF_Graph *graph, const char *spec, TF_Output *out) {
  char name[512];
  const char *colon = strrchr(spec, ':');
  size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
  if (len >= sizeof(name)) return 0;
  memcpy(name, spec, len);
  name[len] = '\0';
  out->oper = TF_GraphOperationByName(graph, name);
  out->index = colon ? atoi(colon + 1) : 0;
  return out->oper != NULL;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s <version_dir> <input> <top_k_ids> <top_k_scores> ITEM [ITEM ...]\n", argv[0]);
    return 2;
  }
  const int64_t num_clicks = argc - 5;

  TF_Status *status = TF_NewStatus();
  TF_Graph *graph = TF_NewGraph();
  TF_SessionOptions *options = TF_NewSessionOptions();
  const char *tags[] = {"serve"};
  TF_Session *session = TF_LoadSessionFromSavedModel(options, NULL, argv[1], tags, 1, graph, NULL, status);
  if (TF_GetCode(status) != TF_OK) return fail("loading the SavedModel", status);

  TF_Output input, outputs[2];
  if (!find_output(graph, argv[2], &input)) return fail("input tensor not found", NULL);
  if (!find_output(graph, argv[3], &outputs[0]) || !find_output(graph, argv[4], &outputs[1]))
    return fail("output tensor not found", NULL);
  /* The request shape the export defines: int64 [batch, length]; top-k outputs [batch, k]. */
  if (TF_OperationOutputType(input) != TF_STRING || TF_OperationOutputType(outputs[0]) != TF_STRING) {
    fprintf(stderr, "error: %s and %s must be string tensors (raw item ids): are they serving_default's "
            "session_items and top_k_ids?\n", argv[2], argv[3]);
    return 1;
  }
  const int tensors_rank[3] = {TF_GraphGetTensorNumDims(graph, input, status),
                               TF_GraphGetTensorNumDims(graph, outputs[0], status),
                               TF_GraphGetTensorNumDims(graph, outputs[1], status)};
  const char *names[3] = {argv[2], argv[3], argv[4]};
  for (int t = 0; t < 3; ++t) {
    if (tensors_rank[t] != 2 && tensors_rank[t] != -1) { /* -1: rank not recorded in the graph */
      fprintf(stderr, "error: tensor %s has rank %d, expected 2 ([batch, length] in, [batch, k] out): "
              "check the names against saved_model_cli\n", names[t], tensors_rank[t]);
      return 1;
    }
  }

  const int64_t dims[2] = {1, num_clicks};  /* one session, no padding */
  TF_Tensor *input_tensor = TF_AllocateTensor(TF_STRING, dims, 2, sizeof(TF_TString) * num_clicks);
  TF_TString *items = (TF_TString *)TF_TensorData(input_tensor);
  for (int64_t i = 0; i < num_clicks; ++i) {
    TF_TString_Init(&items[i]);
    TF_TString_Copy(&items[i], argv[5 + i], strlen(argv[5 + i]));
  }
  TF_Tensor *results[2] = {NULL, NULL};
  TF_SessionRun(session, NULL, &input, &input_tensor, 1, outputs, results, 2, NULL, 0, NULL, status);
  if (TF_GetCode(status) != TF_OK) return fail("running serving_default", status);

  const int64_t k = TF_Dim(results[0], 1);
  const TF_TString *ids = (const TF_TString *)TF_TensorData(results[0]);
  const float *scores = (const float *)TF_TensorData(results[1]);
  for (int64_t r = 0; r < k; ++r)
    printf("%lld %.*s %.6f\n", (long long)(r + 1), (int)TF_TString_GetSize(&ids[r]),
           TF_TString_GetDataPointer(&ids[r]), scores[r]);

  TF_DeleteTensor(results[0]);
  TF_DeleteTensor(results[1]);
  TF_DeleteTensor(input_tensor);
  TF_CloseSession(session, status);
  TF_DeleteSession(session, status);
  TF_DeleteSessionOptions(options);
  TF_DeleteGraph(graph);
  TF_DeleteStatus(status);
  return 0;
}
