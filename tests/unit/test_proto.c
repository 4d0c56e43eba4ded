/* The agent protocol: framing bounds and request validation, the code both
   ends of the host<->guest channel run on every message.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto/agent-proto.h"
#include "core/util.h"

static void
header (uint8_t *h, uint32_t magic, uint8_t ver, uint8_t type, uint16_t flags, uint32_t id, uint32_t len)
{
  h[0] = magic >> 24;
  h[1] = magic >> 16;
  h[2] = magic >> 8;
  h[3] = magic;
  h[4] = ver;
  h[5] = type;
  h[6] = flags >> 8;
  h[7] = flags;
  h[8] = id >> 24;
  h[9] = id >> 16;
  h[10] = id >> 8;
  h[11] = id;
  h[12] = len >> 24;
  h[13] = len >> 16;
  h[14] = len >> 8;
  h[15] = len;
}

static void
expect_reject (uint32_t magic, uint8_t ver, uint8_t type, uint16_t flags, uint32_t id, uint32_t len, const char *needle)
{
  struct frame_reader r;
  struct frame f;
  uint8_t h[16];
  runhv_error_t err = NULL;
  header (h, magic, ver, type, flags, id, len);
  frame_reader_init (&r);
  frame_reader_feed (&r, h, sizeof (h));
  assert_int_equal (frame_reader_next (&r, &f, &err), -1);
  if (strstr (err->msg, needle) == NULL)
    fail_msg ("`%s` lacks `%s`", err->msg, needle);
  runhv_error_release (&err);
  frame_reader_release (&r);
}

static void
test_framing_rejects (void **state)
{
  (void)state;
  expect_reject (0x12345678, 1, FRAME_REQUEST, 0, 1, 2, "bad magic");
  expect_reject (AGENT_PROTO_MAGIC, 9, FRAME_REQUEST, 0, 1, 2, "version 9");
  /* an initramfs built before the last protocol change */
  expect_reject (AGENT_PROTO_MAGIC, AGENT_PROTO_VERSION - 1, FRAME_REQUEST, 0, 1, 2, "not supported");
  expect_reject (AGENT_PROTO_MAGIC, AGENT_PROTO_VERSION, 0, 0, 1, 2, "unknown frame type 0");
  expect_reject (AGENT_PROTO_MAGIC, AGENT_PROTO_VERSION, 77, 0, 1, 2, "unknown frame type 77");
  expect_reject (AGENT_PROTO_MAGIC, AGENT_PROTO_VERSION, FRAME_REQUEST, 1, 1, 2, "reserved flags");
  /* judged from the header alone: no 4 GiB buffer is ever allocated */
  expect_reject (AGENT_PROTO_MAGIC, AGENT_PROTO_VERSION, FRAME_DATA, 0, 1, 0xffffffffu, "over the");
  expect_reject (AGENT_PROTO_MAGIC, AGENT_PROTO_VERSION, FRAME_DATA, 0, 1, AGENT_PROTO_MAX_PAYLOAD + 1, "over the");
  expect_reject (AGENT_PROTO_MAGIC, AGENT_PROTO_VERSION, FRAME_CLOSE, 0, 1, 3, "carries no payload");
  expect_reject (AGENT_PROTO_MAGIC, AGENT_PROTO_VERSION, FRAME_DATA, 0, 0, 3, "stream id 0");
}

static void
test_framing_roundtrip (void **state)
{
  struct outq q;
  struct frame_reader r;
  struct frame f;
  runhv_error_t err = NULL;
  json_t *j = json_pack ("{s:s,s:i}", "op", "hello", "version", 1);
  (void)state;
  outq_init (&q);
  frame_reader_init (&r);
  assert_int_equal (outq_push_json (&q, FRAME_REQUEST, 7, j, &err), 0);
  assert_int_equal (outq_push (&q, FRAME_DATA, 3, "abc", 3, &err), 0);
  assert_int_equal (outq_push (&q, FRAME_CLOSE, 3, NULL, 0, &err), 0);
  /* feed one byte at a time: partial frames wait for more */
  for (size_t i = 0; i < q.len; i++)
    frame_reader_feed (&r, q.buf + i, 1);
  assert_int_equal (frame_reader_next (&r, &f, &err), 1);
  assert_int_equal (f.type, FRAME_REQUEST);
  assert_int_equal (f.id, 7);
  {
    json_t *back = NULL;
    enum agent_op op;
    assert_int_equal (proto_json (&f, &back, &err), 0);
    assert_int_equal (proto_validate_request (back, &op, &err), 0);
    assert_int_equal (op, OP_HELLO);
    json_decref (back);
  }
  assert_int_equal (frame_reader_next (&r, &f, &err), 1);
  assert_int_equal (f.type, FRAME_DATA);
  assert_int_equal (f.len, 3);
  assert_memory_equal (f.payload, "abc", 3);
  assert_int_equal (frame_reader_next (&r, &f, &err), 1);
  assert_int_equal (f.type, FRAME_CLOSE);
  assert_int_equal (frame_reader_next (&r, &f, &err), 0);
  assert_int_equal (outq_push (&q, FRAME_DATA, 3, "x", AGENT_PROTO_MAX_PAYLOAD + 1, &err), -1);
  runhv_error_release (&err);
  json_decref (j);
  outq_release (&q);
  frame_reader_release (&r);
}

static void
expect_bad_request (const char *text, const char *needle)
{
  json_error_t je;
  json_t *j = json_loads (text, 0, &je);
  enum agent_op op;
  runhv_error_t err = NULL;
  assert_non_null (j);
  assert_int_equal (proto_validate_request (j, &op, &err), -1);
  if (strstr (err->msg, needle) == NULL)
    fail_msg ("`%s` lacks `%s`", err->msg, needle);
  runhv_error_release (&err);
  json_decref (j);
}

static void
test_requests (void **state)
{
  (void)state;
  expect_bad_request ("{}", "needs a string `op`");
  expect_bad_request ("{\"op\":\"format-disk\"}", "unknown op");
  expect_bad_request ("{\"op\":\"hello\"}", "`version` is missing");
  expect_bad_request ("{\"op\":\"start\",\"id\":\"../x\"}", "`id`");
  expect_bad_request ("{\"op\":\"start\",\"id\":7}", "must be a string");
  expect_bad_request ("{\"op\":\"kill\",\"id\":\"a\",\"signal\":-1}", "`signal`");
  expect_bad_request ("{\"op\":\"kill\",\"id\":\"a\",\"signal\":65}", "`signal`");
  expect_bad_request ("{\"op\":\"create\",\"id\":\"a\",\"spec\":{},\"rootfs\":\"rel\"}", "absolute path");
  expect_bad_request ("{\"op\":\"create\",\"id\":\"a\",\"spec\":{},\"rootfs\":\"/a/../b\"}", "absolute path");
  expect_bad_request ("{\"op\":\"create\",\"id\":\"a\",\"spec\":[],\"rootfs\":\"/r\"}", "`spec` must be an object");
  expect_bad_request ("{\"op\":\"create\",\"id\":\"a\",\"spec\":{},\"rootfs\":\"/r\",\"stdio\":{\"stdin\":0}}",
                      "stream id");
  expect_bad_request ("{\"op\":\"create\",\"id\":\"a\",\"spec\":{},\"rootfs\":\"/r\",\"stdio\":{\"video\":3}}",
                      "unknown stdio stream");
  expect_bad_request ("{\"op\":\"exec\",\"id\":\"a\",\"exec_id\":\"e\",\"process\":{},\"stdio\":{\"terminal\":3,"
                      "\"stdout\":4}}",
                      "terminal replaces");
  expect_bad_request ("{\"op\":\"resize\",\"stream\":1,\"rows\":70000,\"cols\":1}", "`rows`");
  /* hello's VM template fields (hypervisor.md, VM templates) */
  expect_bad_request ("{\"op\":\"hello\",\"version\":3,\"template\":\"yes\"}", "`template` must be true or false");
  expect_bad_request ("{\"op\":\"hello\",\"version\":3,\"seed\":\"00ff\"}", "`seed` must be 64");
  expect_bad_request ("{\"op\":\"hello\",\"version\":3,\"seed\":"
                      "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeegg\"}",
                      "hex digits");
  expect_bad_request ("{\"op\":\"hello\",\"version\":3,\"realtime\":[1,1000000000]}", "`realtime`");
  expect_bad_request ("{\"op\":\"hello\",\"version\":3,\"realtime\":[-1,0]}", "`realtime`");
  expect_bad_request ("{\"op\":\"hello\",\"version\":3,\"realtime\":5}", "`realtime`");
  expect_bad_request ("{\"op\":\"hello\",\"version\":3,\"template\":true,\"realtime\":[1,0]}",
                      "carries no seed, time or network");
  expect_bad_request ("{\"op\":\"hello\",\"version\":3,\"net\":\"10.0.0.2/24,10.0.0.1,aa:bb:cc:dd:ee:ff,1500;rm\"}",
                      "`net` must be");
  expect_bad_request ("{\"op\":\"hello\",\"version\":3,\"net\":7}", "`net` must be");
}

static void
test_hello_seed (void **state)
{
  unsigned char seed[AGENT_HELLO_SEED_BYTES];
  json_t *j = json_pack ("{s:s,s:i,s:s,s:[i,i]}", "op", "hello", "version", AGENT_PROTO_VERSION, "seed",
                         "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "realtime", 7, 9);
  enum agent_op op;
  runhv_error_t err = NULL;
  (void)state;
  assert_int_equal (proto_validate_request (j, &op, &err), 0);
  assert_int_equal (op, OP_HELLO);
  assert_int_equal (proto_hello_seed (j, seed), AGENT_HELLO_SEED_BYTES);
  for (int i = 0; i < AGENT_HELLO_SEED_BYTES; i++)
    assert_int_equal (seed[i], i);
  json_decref (j);
  j = json_pack ("{s:s,s:i,s:b}", "op", "hello", "version", AGENT_PROTO_VERSION, "template", 1);
  assert_int_equal (proto_validate_request (j, &op, &err), 0);
  assert_int_equal (proto_hello_seed (j, seed), 0);
  json_decref (j);
}

static void
test_responses_and_events (void **state)
{
  runhv_error_t err = NULL, e2 = NULL;
  json_t *ok = proto_ok (), *bad;
  json_error_t je;
  json_t *ev = json_loads ("{\"event\":\"exit\",\"id\":\"c\",\"status\":300}", 0, &je);
  (void)state;
  assert_int_equal (proto_check_response (ok, &err), 0);
  runhv_error (&e2, "no such thing");
  bad = proto_error (e2);
  assert_int_equal (proto_check_response (bad, &err), -1);
  assert_string_equal (err->msg, "no such thing");
  runhv_error_release (&err);
  runhv_error_release (&e2);
  assert_int_equal (proto_validate_event (ev, &err), -1);
  runhv_error_release (&err);
  json_decref (ok);
  json_decref (bad);
  json_decref (ev);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_framing_rejects),
    cmocka_unit_test (test_framing_roundtrip),
    cmocka_unit_test (test_requests),
    cmocka_unit_test (test_hello_seed),
    cmocka_unit_test (test_responses_and_events),
  };
  return cmocka_run_group_tests_name ("proto", tests, NULL, NULL);
}
