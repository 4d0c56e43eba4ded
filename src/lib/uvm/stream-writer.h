/* Output the VM supervisor relays to a reader it does not control (a FIFO,
   a pipe, a terminal, a socket): buffered, written without blocking, so a
   reader that stalls slows only its own stream.  The caller bounds the
   buffer by asking the guest to pause the stream (FRAME_XOFF).  */
#ifndef RUNHV_UVM_STREAM_WRITER_H
#define RUNHV_UVM_STREAM_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stream_writer
{
  int fd;    /* the reader's descriptor as we were given it */
  int wfd;   /* our own non-blocking open of it, or fd */
  bool sock; /* written with send (MSG_DONTWAIT) */
  bool broken;
  uint8_t *buf;
  size_t len, off;
};

/* fd stays the caller's; a separate open file description is made where
   the kind of file allows, so the reader's own flags never change.  */
void stream_writer_init (struct stream_writer *w, int fd);
void stream_writer_release (struct stream_writer *w);
/* Queue and write what the reader takes now.  */
void stream_writer_push (struct stream_writer *w, const void *data, size_t n);
/* Write what the reader takes now; false once the reader is gone.  */
bool stream_writer_flush (struct stream_writer *w);
size_t stream_writer_pending (const struct stream_writer *w);

#endif
