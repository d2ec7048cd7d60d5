module github.com/roomtape/roomtape

go 1.26
