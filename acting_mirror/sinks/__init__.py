"""Where frames go: the output video, the streamed timeline, snapshots and a photo's copy (the
windows are in display.py, the video with its sound in recording.py). Failures to write raise
`SinkError` with a one-line message naming the path."""

from acting_mirror.sinks.base import SinkError, describe_os_error, os_error_reason
from acting_mirror.sinks.claims import (
    OutputClaim,
    check_folder_writable,
    check_free_space,
    check_output_path,
    make_folder,
    refuse_overwriting_inputs,
    same_file,
)
from acting_mirror.sinks.images import ImageFileSink, save_snapshot, write_image
from acting_mirror.sinks.timeline_file import TimelineFile
from acting_mirror.sinks.video import VideoSink

__all__ = ["ImageFileSink", "OutputClaim", "SinkError", "TimelineFile", "VideoSink", "check_folder_writable",
           "check_free_space", "check_output_path", "describe_os_error", "make_folder", "os_error_reason",
           "refuse_overwriting_inputs", "same_file", "save_snapshot", "write_image"]
